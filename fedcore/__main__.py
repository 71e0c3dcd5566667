from fedcore.cli.main import main

raise SystemExit(main())
