"""`python -m ikr_hls` is the `ikr-hls` command."""
import sys

from .cli import main

sys.exit(main())
