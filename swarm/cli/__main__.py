"""`python -m defai_swarm.cli ...` is the `swarm` command."""
import sys

from defai_swarm.cli.entry import main

sys.exit(main())
