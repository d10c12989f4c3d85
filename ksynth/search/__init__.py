"""Program search: strategies propose programs, the interpreter verifies, the cheapest wins."""
