from mpugui.app import main

raise SystemExit(main())
