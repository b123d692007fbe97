"""``python -m k2v_learnware.cli``: the ``k2v-learnware`` console script without the script.

Serves every stage of the learnware paradigm, as the script does, where the
script is not on PATH (a virtual environment not activated, a checkout not
installed).
"""

import sys

from .dispatch import main

sys.exit(main())
