# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exception type raised by genai.stack module_utils and turned into fail_json by main()."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class GenaiStackError(Exception):
    """An error a module reports to the user as its failure message.

    ``details`` holds extra, JSON-serialisable return values (never secrets) that main()
    passes to fail_json alongside ``msg``.
    """

    def __init__(self, msg, **details):
        super(GenaiStackError, self).__init__(msg)
        self.msg = msg
        self.details = details
