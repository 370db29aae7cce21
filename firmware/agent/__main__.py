from firmware.agent.main import main

raise SystemExit(main())
