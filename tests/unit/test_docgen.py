"""docs/drops.md and docs/features.md are generated from the code (controller/docgen.py):
these fail when a checked-in page is stale, so the pages cannot drift from drop.h and the
action registry."""
import re
import shutil

from controller import docgen
from controller.lflow import actions as A
from datapath.bpfsrc import lib_header
from datapath.drops import DropReason


def test_checked_in_pages_are_current():
    assert docgen.stale_pages() == [], "run `python -m controller.docgen` and commit docs/"


def test_every_drop_reason_is_in_the_table_with_its_code():
    text = (docgen.DOCS / "drops.md").read_text()
    rows = dict((m.group(2), int(m.group(1)))
                for m in re.finditer(r"^\| (\d+) \| `([A-Z0-9_]+)` \|", text, re.M))
    assert rows == {d.name: -d.value for d in DropReason}
    # every reason carries a meaning (the comment on its line in drop.h)
    assert all(meaning for _, _, meaning in docgen.drop_reasons())


def test_a_new_drop_reason_makes_the_page_stale(tmp_path):
    header = tmp_path / "drop.h"
    shutil.copy(lib_header("drop.h"), header)
    text = header.read_text().replace(
        "};", "    OVNBPF_DROP_SOMETHING_NEW = -63,   /* a reason added later */\n};", 1)
    header.write_text(text)
    assert "`SOMETHING_NEW` | a reason added later" in docgen.drops_md(header)
    assert docgen.drops_md(header) != (docgen.DOCS / "drops.md").read_text()


def test_features_page_lists_every_action_with_its_registry_category():
    text = (docgen.DOCS / "features.md").read_text()
    for key, cls in {**A.ACTIONS, **A.RESULT_ACTIONS}.items():
        assert f"| `{key}` | {cls.category} |" in text, key


def test_feature_status_follows_the_registry():
    assert docgen.feature_status(("next", "output")) == docgen.WORKS
    assert docgen.feature_status(("ct_lb_mark",)) == docgen.NOT
    assert docgen.feature_status(("lookup_fdb", "put_fdb")) == docgen.PARTIAL
