from ksynth.cli import main

main()
