"""Make ``ansible_collections.genai.stack`` importable from a clone.

The repository holds collections/ansible_collections/genai/stack, a link to its own root, so
putting ``collections`` on sys.path is all the unit tests need (``ansible_collections`` is a
namespace package and merges with the collections installed in the virtualenv).
"""

import os
import sys

COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "collections"))
if os.path.isdir(os.path.join(COLLECTIONS, "ansible_collections")) and COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
