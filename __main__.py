from bluegreen.program import main

main()
