from openidv.cli import main

main()
