"""The README's 30-second example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README lost its example"
    for code in blocks:
        exec(compile(code, str(README), "exec"), {})
    assert "l2" in capsys.readouterr().out
