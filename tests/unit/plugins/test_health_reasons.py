# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's table of health reasons is exactly health_checks.REASONS.

The table between the markers is generated from REASONS; when a reason is added, changed or
removed, regenerate it with ``GENAI_UPDATE_README=1 .venv/bin/pytest tests/unit/plugins/test_health_reasons.py``.
Every reason the rules produce on the recorded namespaces is in REASONS too.
"""

import ast
import os
import re

from ansible_collections.genai.stack.plugins.module_utils import health_checks as hc

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")
README = os.path.join(ROOT, "README.md")
SOURCE = os.path.join(ROOT, "plugins", "module_utils", "health_checks.py")
START = "<!-- health reasons: generated from plugins/module_utils/health_checks.py REASONS -->"
END = "<!-- end of health reasons -->"


def rendered_table():
    lines = ["| reason | ends the wait | meaning |", "|---|---|---|"]
    for reason, (when, meaning) in hc.REASONS.items():
        lines.append("| `{0}` | {1} | {2} |".format(reason, when, meaning.replace("|", "\\|")))
    return "\n".join(lines)


def readme_block(text):
    match = re.search(re.escape(START) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    assert match, "README.md has no block between {0!r} and {1!r}".format(START, END)
    return match


def test_readme_lists_exactly_the_reasons():
    with open(README) as handle:
        text = handle.read()
    match = readme_block(text)
    if os.environ.get("GENAI_UPDATE_README") and match.group(1) != rendered_table():
        text = text[:match.start(1)] + rendered_table() + text[match.end(1):]
        with open(README, "w") as handle:
            handle.write(text)
        match = readme_block(text)
    listed = re.findall(r"^\| `([^`]+)` \|", match.group(1), re.M)
    assert listed == list(hc.REASONS), "regenerate with GENAI_UPDATE_README=1"
    assert match.group(1) == rendered_table(), "regenerate with GENAI_UPDATE_README=1"


def test_every_reason_constant_is_in_reasons_and_every_reason_has_a_constant():
    """Module-level string constants assigned before REASONS are the reason names."""
    with open(SOURCE) as handle:
        tree = ast.parse(handle.read())
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name == "REASONS":
                break
            if name.isupper() and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str) and \
                    not node.value.value.startswith(("/", "app.", "genai.", "kubernetes.io", "deployment.")):
                constants[name] = node.value.value
    assert set(constants.values()) == set(hc.REASONS)
    assert len(set(constants.values())) == len(constants)


def test_recorded_namespaces_only_produce_listed_reasons():
    import yaml

    fixtures = os.path.join(os.path.dirname(__file__), "..", "fixtures", "health")
    seen = set()
    for name in sorted(os.listdir(fixtures)):
        with open(os.path.join(fixtures, name)) as handle:
            data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        objects = {k: v for k, v in data.items() if not k.startswith("_") and k != "Event"}
        for grace in (0, 3600):
            options = {"pull_grace_period": grace, "stuck_grace_period": grace}
            report = hc.evaluate(objects, hc.parse_time(data["_recorded_at"]), events=data.get("Event", []), options=options)
            for comp in report["components"]:
                seen.update(o["reason"] for o in comp["objects"] if o["reason"])
                if comp["reason"]:
                    seen.add(comp["reason"])
    assert seen and seen <= set(hc.REASONS), seen - set(hc.REASONS)
