import re
from pathlib import Path

from fedcore.audit.actions import AUDIT_ACTIONS

ROOT = Path(__file__).resolve().parents[1]


def test_every_action_written_anywhere_is_declared():
    written = set()
    for path in list((ROOT / "fedcore").rglob("*.py")) + list((ROOT / "functions").rglob("*.py")):
        text = path.read_text()
        written |= set(re.findall(r'append\(\s*"hub",\s*"([a-z_.]+)"', text))
        written |= set(re.findall(r'audit_admin_action\([^,]+,\s*"([a-z_.]+)"', text))
    assert written and written <= set(AUDIT_ACTIONS), written - set(AUDIT_ACTIONS)
