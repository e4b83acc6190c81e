"""Generate the reference sections of the role READMEs from their sources.

- ``roles/<role>/README.md``, section "Variables": one table row per option of the role's
  ``meta/argument_specs.yml`` (name, type, default, description).
- ``roles/common/README.md``, sections "The component record" and "`genai_ingress`": one row
  per field of the schema in ``plugins/module_utils/schema.py``, from its descriptions.

Each generated block sits between ``<!-- BEGIN GENERATED ... -->`` and ``<!-- END GENERATED
... -->`` markers; everything else in a README is prose and stays as written. Without
markers, the first table of the section is replaced (or the block is appended to the section).

Usage: ``python3 scripts/docs.py`` rewrites the READMEs; ``--check`` exits 1 and names
the READMEs that differ. ``tests/unit/test_docs.py`` runs the check
(``GENAI_UPDATE_DOCS=1`` makes it rewrite instead).
"""

import os
import re
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
LONG_DEFAULT = 60


def _schema():
    collections = os.path.join(ROOT, "collections")
    if collections not in sys.path:
        sys.path.insert(0, collections)
    from ansible_collections.genai.stack.plugins.module_utils import schema  # pylint: disable=import-outside-toplevel
    return schema


def _inline(text):
    """Ansible doc markup to Markdown: C(x) -> `x`, I(x) -> *x*, table-safe."""
    text = re.sub(r"[CV]\(([^)]*)\)", r"`\1`", str(text))
    text = re.sub(r"[IB]\(([^)]*)\)", r"*\1*", text)
    text = re.sub(r"[LU]\(([^,)]*)(?:,[^)]*)?\)", r"\1", text)
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _default(spec):
    if "default" not in spec:
        return "required" if spec.get("required") else "-"
    text = yaml.safe_dump(spec["default"], default_flow_style=True, width=1000).strip()
    text = re.sub(r"\n\.\.\.$", "", text)
    if len(text) > LONG_DEFAULT:
        return "see `defaults/main.yml`"
    return "`{}`".format(text.replace("|", "\\|"))


def _type(spec):
    kind = spec.get("type", "str")
    if spec.get("elements"):
        kind = "{} of {}".format(kind, spec["elements"])
    if spec.get("choices"):
        kind += ": " + ", ".join(f"`{c}`" for c in spec["choices"])
    return kind


def variables_table(role):
    """The Markdown table of a role's argument_specs (main entry point)."""
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        options = (yaml.safe_load(handle)["argument_specs"]["main"].get("options")) or {}
    lines = ["| Variable | Type | Default | Description |", "|---|---|---|---|"]
    for name in sorted(options):
        spec = options[name] or {}
        description = spec.get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        lines.append(f"| `{name}` | {_type(spec)} | {_default(spec)} | {_inline(description)} |")
    return "\n".join(lines)


def _schema_type(node):
    if "x-type" in node:
        return node["x-type"]
    if "enum" in node:
        return "one of " + ", ".join("`{}`".format(v if v != "" else '""') for v in node["enum"])
    if "anyOf" in node and "type" not in node:
        kinds = []
        for branch in node["anyOf"]:
            kind = _schema_type(branch)
            if kind not in kinds:
                kinds.append(kind)
        if kinds == ["int", "str"] or kinds == ["int", "str (pattern)"]:
            return "int"
        if kinds[:1] == ["bool"] and len(kinds) == 2 and "one of" in kinds[1]:
            return "bool"
        return " or ".join(kinds)
    if "const" in node:
        return "`{}`".format(str(node["const"]).lower())
    kind = node.get("type", "any")
    if isinstance(kind, list):
        kind = [k for k in kind if k != "null"][0]
    names = {"string": "str", "integer": "int", "boolean": "bool", "object": "dict", "array": "list",
             "number": "number"}
    text = names.get(kind, kind)
    if kind == "array" and isinstance(node.get("items"), dict):
        text = "list of " + _schema_type(node["items"])
    if kind == "string" and "pattern" in node and "description" not in node:
        text = "str (pattern)"
    return text


def _expandable(node):
    """The object schema whose fields are listed under a field: itself, its object branch or items."""
    if isinstance(node.get("items"), dict):
        node = node["items"]
    for branch in node.get("anyOf") or []:
        if branch.get("properties"):
            return branch
    return node if node.get("properties") else None


def _rows(node, prefix, depth, seen):
    rows = []
    for key, child in (node.get("properties") or {}).items():
        name = f"{prefix}{key}"
        required = key in (node.get("required") or [])
        target = _expandable(child)
        description = _inline(child.get("description", ""))
        if target is not None and id(target) in seen:
            description += " Fields as `{}`.".format(seen[id(target)])
            target = None
        rows.append("| `{}` | {} | {}{} |".format(name, _schema_type(child), "**required.** " if required else "", description))
        if target is not None and depth < 3:
            if isinstance(child.get("items"), dict) or (child.get("type") == ["array", "null"]):
                name += "[]"
            seen[id(target)] = name
            rows.extend(_rows(target, name + ".", depth + 1, seen))
    return rows


def schema_table(node):
    """The Markdown table of a schema object: one row per field, nested fields dotted."""
    return "\n".join(["| Field | Type | Description |", "|---|---|---|"] + _rows(node, "", 0, {}))


def _block(name, content):
    return "<!-- BEGIN GENERATED {0} (scripts/docs.py; edit the source, not this table) -->\n{1}\n" \
           "<!-- END GENERATED {0} -->".format(name, content)


def replace_section(text, heading, name, content):
    """``text`` with the generated block ``name`` set to ``content`` in the section ``heading``."""
    block = _block(name, content)
    pattern = re.compile(r"<!-- BEGIN GENERATED {0} .*?-->.*?<!-- END GENERATED {0} -->".format(re.escape(name)), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _m: block, text, count=1)
    lines = text.split("\n")
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    except StopIteration:
        return text.rstrip("\n") + "\n\n" + heading + "\n\n" + block + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    first = next((i for i in range(start + 1, end) if lines[i].startswith("|")), None)
    if first is None:
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        new = lines[:end] + ["", block] + lines[end:]
    else:
        last = first
        while last + 1 < end and lines[last + 1].startswith("|"):
            last += 1
        new = lines[:first] + [block] + lines[last + 1:]
    return "\n".join(new)


def rendered():
    """``{README path: wanted text}`` for every README with generated sections."""
    result = {}
    schema = _schema()
    roles_dir = os.path.join(ROOT, "roles")
    for role in sorted(os.listdir(roles_dir)):
        readme = os.path.join(roles_dir, role, "README.md")
        specs = os.path.join(roles_dir, role, "meta", "argument_specs.yml")
        if not (os.path.isfile(readme) and os.path.isfile(specs)):
            continue
        with open(readme) as handle:
            text = handle.read()
        text = replace_section(text, "## Variables", "variables", variables_table(role))
        if role == "common":
            text = replace_section(text, "## The component record", "component-record", schema_table(schema.COMPONENT))
            text = replace_section(text, "## `genai_ingress`", "genai_ingress", schema_table(schema.INGRESS))
        result[readme] = text if text.endswith("\n") else text + "\n"
    return result


def main(argv):
    stale = []
    for path, text in rendered().items():
        with open(path) as handle:
            current = handle.read()
        if current == text:
            continue
        stale.append(os.path.relpath(path, ROOT))
        if "--check" not in argv:
            with open(path, "w") as handle:
                handle.write(text)
    if stale and "--check" in argv:
        sys.stderr.write("out of date (run scripts/docs.py): {}\n".format(", ".join(stale)))
        return 1
    for path in stale:
        sys.stdout.write(f"updated {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
