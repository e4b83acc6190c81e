"""genai.stack.apply with hide_values: the failure and the result hold no Secret value (issue 9).

The preflight and the tiers apply the Secrets in no_log tasks; what is shown instead (a
rescue's message, and ansible-core's own "Task failed" line, which prints a no_log task's
message) is the module's message, so it must name the refused Secret, its component and why
without any value, however the API server phrased its refusal.
"""

import base64

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError
from ansible_collections.genai.stack.plugins.modules import apply as apply_module

VALUE = "Zq81-secret-value"
ENCODED = base64.b64encode(VALUE.encode()).decode()
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-secrets", "namespace": "shop",
                                                             "labels": {"app.kubernetes.io/name": "api"}},
          "type": "Opaque", "data": {"API_KEY": ENCODED}}
REFUSAL = "api: Secret api-secrets: HTTP 403: admission webhook denied {} ({})".format(VALUE, ENCODED)


class Done(Exception):
    pass


class RefusingApplier(object):
    def __init__(self, api, params, check_mode=False, diff=False):
        self.params = params

    def run(self):
        raise GenaiStackError("The API server would refuse 1 object(s); nothing was applied:\n- " + REFUSAL,
                              refusals=[{"component": "api", "kind": "Secret", "name": "api-secrets",
                                         "message": REFUSAL, "field": None, "reason": "forbidden",
                                         "remedy": "change the policy"}],
                              results=[], changed=False)


class EchoingApplier(RefusingApplier):
    def run(self):
        return {"changed": True, "results": [{"kind": "Secret", "name": "api-secrets", "action": "created"}],
                "revisions": {}, "refusals": [], "notes": ["seen " + VALUE], "replaced_pods": [], "dry_run": True}


def run_module(monkeypatch, applier, hide_values):
    outcome = {}

    def exit_json(self, **result):
        outcome.update(result, failed=False)
        raise Done()

    def fail_json(self, **result):
        outcome.update(result, failed=True)
        raise Done()

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(apply_module, "HAS_KUBERNETES", True)
    monkeypatch.setattr(apply_module, "get_api", lambda params: None)
    monkeypatch.setattr(apply_module, "Applier", applier)
    with patch_module_args({"definitions": [SECRET], "namespace": "shop", "dry_run": True, "hide_values": hide_values}):
        with pytest.raises(Done):
            apply_module.main()
    return outcome


def test_refused_secret_is_named_without_its_value(monkeypatch):
    result = run_module(monkeypatch, RefusingApplier, hide_values=True)
    assert result["failed"]
    text = repr(result)
    assert VALUE not in text and ENCODED not in text
    assert "api: Secret api-secrets: HTTP 403: admission webhook denied <hidden> (<hidden>)" in result["msg"]
    assert result["refusals"][0]["message"] == "api: Secret api-secrets: HTTP 403: admission webhook denied <hidden> (<hidden>)"
    assert result["refusals"][0]["component"] == "api"


def test_result_of_a_secret_apply_holds_no_value(monkeypatch):
    result = run_module(monkeypatch, EchoingApplier, hide_values=True)
    assert not result["failed"]
    assert result["notes"] == ["seen <hidden>"]
    assert result["results"] == [{"kind": "Secret", "name": "api-secrets", "action": "created"}]


def test_without_hide_values_the_message_is_the_api_servers(monkeypatch):
    result = run_module(monkeypatch, RefusingApplier, hide_values=False)
    assert result["failed"] and VALUE in result["msg"]
