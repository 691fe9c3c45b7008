"""Every Python example in README.md runs, so the docs cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int) -> None:
    namespace: dict[str, object] = {"__name__": f"readme_example_{index}"}
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), namespace)


def test_the_pytest_quick_start_finds_the_double_charge(pytester: pytest.Pytester) -> None:
    text = README.read_text()
    block = re.search(r"<!-- quickstart.*?-->\n```python\n(.*?)```", text, flags=re.S)
    assert block is not None, "the README's pytest quick start is marked with <!-- quickstart ... -->"
    assert len(block.group(1).strip().splitlines()) <= 20
    pytester.makepyfile(test_pay=block.group(1))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_pay.py")
    result.assert_outcomes(failed=1)
    assert "[idempotency] effect 'charge'" in result.stdout.str()
