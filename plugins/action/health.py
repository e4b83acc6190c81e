# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of genai.stack.health: the wait in the controller's worker, with progress.

When the task's connection is local (the usual case: the API server is reached from the
controller), the wait runs in this worker process, which saves the module's start-up and
lets it print a progress line every ``progress_interval`` seconds while one call waits the
whole timeout. Otherwise, or when the kubernetes library is missing on the controller, the
module runs on the target as any module would (without progress lines).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError
from ansible_collections.genai.stack.plugins.module_utils.k8s_client import HAS_KUBERNETES
from ansible_collections.genai.stack.plugins.modules import health as health_module

display = Display()

MODULE = "genai.stack.health"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def _runs_locally(self):
        return getattr(self._connection, "transport", None) == "local" or self._play_context.connection in (
            "local", "ansible.builtin.local")

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        if not (self._runs_locally() and HAS_KUBERNETES):
            result.update(self._execute_module(module_name=MODULE, module_args=self._task.args, task_vars=task_vars))
            return result
        validation, params = self.validate_argument_spec(argument_spec=health_module.argument_spec())
        del validation  # errors raise AnsibleActionFail in validate_argument_spec
        host = task_vars.get("inventory_hostname", "") if task_vars else ""

        def progress(line):
            display.display("{0}{1}".format("{0}: ".format(host) if host else "", line))

        saved = self._apply_task_environment()
        try:
            result.update(health_module.run(params, check_mode=bool(self._play_context.check_mode), progress=progress))
        except GenaiStackError as exc:
            result.update(health_module.failure(exc))
            result["failed"] = True
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return result

    def _apply_task_environment(self):
        """The task's ``environment`` (K8S_AUTH_* variables), as the module would see it; the
        previous values are returned for restoring."""
        saved = {}
        environments = self._task.environment or []
        if not isinstance(environments, list):
            environments = [environments]
        for environment in environments:
            values = self._templar.template(environment) if environment else {}
            for name, value in (values or {}).items():
                name = str(name)
                if name not in saved:
                    saved[name] = os.environ.get(name)
                os.environ[name] = str(value)
        return saved
