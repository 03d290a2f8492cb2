from paraminspect.cli import main

main()
