# -*- coding: utf-8 -*-
# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of genai.stack.apply: run the apply engine in the controller's worker.

A module runs in a new Python process that imports the kubernetes client and ships its
arguments through AnsiballZ each time (about 1 s of CPU per task); the Kubernetes API is
reached from the controller anyway when the connection is local. So, for a task whose
connection is local, this plugin validates the arguments against the module's own argument
spec and runs plugins/module_utils/apply_engine.py in-process (about 0.3 s per task). For
any other connection it runs the module on the target as usual.

The task's ``environment`` (K8S_AUTH_* variables, KUBECONFIG) is honoured in-process too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.genai.stack.plugins.module_utils.apply_engine import Applier, argument_spec, without_values
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError

LOCAL_CONNECTIONS = ("local", "ansible.builtin.local", "ansible.legacy.local")
ENVIRONMENT_PREFIXES = ("K8S_AUTH_", "KUBECONFIG")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(argument_spec())

    def _runs_locally(self):
        transport = getattr(self._connection, "transport", None) or self._play_context.connection
        return transport in LOCAL_CONNECTIONS

    def _task_environment(self):
        environment = {}
        for entry in self._task.environment or []:
            entry = self._templar.template(entry)
            if isinstance(entry, dict):
                environment.update(entry)
        return {str(k): str(v) for k, v in environment.items() if str(k).startswith(ENVIRONMENT_PREFIXES)}

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        if not self._runs_locally():
            result.update(self._execute_module(module_name="genai.stack.apply", module_args=self._task.args,
                                               task_vars=task_vars))
            return result

        try:
            _validation, params = self.validate_argument_spec(argument_spec())
        except AnsibleActionFail as exc:
            result.update(failed=True, msg=str(exc))
            return result

        definitions = [d for d in params["definitions"] or [] if d]
        check_mode = bool(self._play_context.check_mode)
        if not definitions and not params["prune"] and params["state"] == "present":
            # an empty tier: nothing to do and nobody to ask
            result.update(changed=False, results=[], revisions={}, refusals=[], notes=[], replaced_pods=[],
                          dry_run=check_mode or params["dry_run"])
            return result

        diff = bool(self._play_context.diff)
        environment = self._task_environment()
        saved = {k: os.environ.get(k) for k in environment}
        os.environ.update(environment)
        try:
            from ansible_collections.genai.stack.plugins.module_utils.k8s_client import get_api

            result.update(Applier(get_api(params), params, check_mode=check_mode, diff=diff).run())
        except GenaiStackError as exc:
            result.update(exc.details)
            result.update(failed=True, msg=exc.msg)
        except Exception as exc:  # pylint: disable=broad-except
            if not params["hide_values"]:
                raise
            # the traceback of an unexpected error could quote a definition: name the error only
            result.update(failed=True, msg="{0} applying the Secrets: {1}".format(type(exc).__name__, exc))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        if params["hide_values"]:
            # what a no_log task shows instead of its result (a rescue's message) holds no value
            result = without_values(result, definitions)
        return result
