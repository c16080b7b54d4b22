import sys

from .kit import main

sys.exit(main())
