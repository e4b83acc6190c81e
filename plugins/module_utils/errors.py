# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception root of genai.stack: every error module_utils raise derives from it.

``GenaiStackError`` is turned into ``fail_json`` by a module's main() and into
``AnsibleFilterError`` by the filters. Subclasses: ``system.SystemDefinitionError`` (a system
that cannot be rendered; its ``errors`` list every problem with its variable path) and
``minikube_cli.MinikubeError``.
"""

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
