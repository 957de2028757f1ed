"""Settings > Storage prices: the rows' checks, and a saved price re-pricing
the In-progress tab, the All buckets tab and the CLI alike, driven through
the window's menu and the dialog's widgets against moto."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QComboBox, QDialogButtonBox, QLineEdit

from mpugui.cli import main as cli
from mpugui.core import paths
from mpugui.core.errors import MpuguiError
from mpugui.core.orphans.prices import load_table, read_prices, store_key
from mpugui.core.units import GiB
from mpugui.ui.uploads.all_buckets.buckets_model import BUCKET, REPORT_ROLE
from mpugui.ui.uploads.models import COST
from mpugui.ui.uploads.prices_dialog import (
    EVERY_CLASS,
    EVERY_STORE,
    PRICE,
    STORE,
    PricesDialog,
    parse_rows,
)
from tests.conftest import MOTO_ACCOUNT
from tests.functional import test_orphans_scan as scan_fixtures
from tests.ui.test_ui_main_window import make_window  # noqa: F401  (a fixture)

fresh_account = scan_fixtures.fresh_account
account = scan_fixtures.account


@pytest.mark.parametrize(("row", "says"), [
    (("s3.wasabisys.com", EVERY_CLASS, "", "cheap"), "'cheap' is not a price"),
    (("s3.wasabisys.com", EVERY_CLASS, "", ""), "give a price"),
    (("s3.wasabisys.com", EVERY_CLASS, "", "-0.01"), "from 0 to 100"),
    (("s3.wasabisys.com", "STANDARD", "eu-west-1", "0.01"), "leave the region empty"),
    ((EVERY_STORE, EVERY_CLASS, "eu-west-1", "0.01"), "a region needs a storage class"),
    ((EVERY_STORE, "STANDARD", "Europe", "0.01"), "is not a storage class"),
    ((EVERY_STORE, "cold storage", "", "0.01"), "is not a storage class"),
    (("not a host", EVERY_CLASS, "", "0.01"), "is not a store's host"),
])
def test_a_bad_row_is_refused_with_a_sentence_naming_it(row, says):
    with pytest.raises(MpuguiError) as caught:
        parse_rows([(EVERY_STORE, "GLACIER", "", "0.004"), row])
    assert str(caught.value).startswith("Row 2: ") and says in str(caught.value)


def test_rows_become_prices_per_store_and_for_every_store():
    overrides, stores = parse_rows([
        ("https://S3.Wasabisys.com/", EVERY_CLASS, "", "$0.0069"),
        ("acct.r2.cloudflarestorage.com", "standard", "", "0.015"),
        ("acct.r2.cloudflarestorage.com", "STANDARD_IA", "", "0.01"),
        (EVERY_STORE, "GLACIER", "EU-West-1", "0.004"),
    ])
    assert overrides == {"eu-west-1/GLACIER": 0.004}
    assert stores == {"s3.wasabisys.com": {"*": 0.0069},
                      "acct.r2.cloudflarestorage.com": {"STANDARD": 0.015, "STANDARD_IA": 0.01}}
    with pytest.raises(MpuguiError, match="set twice"):
        parse_rows([("s3.wasabisys.com", "", "", "1"), ("s3.wasabisys.com", "*", "", "2")])


def _set_row(dialog: PricesDialog, row: int, store: str, price: str) -> None:
    box, edit = dialog.table.cellWidget(row, STORE), dialog.table.cellWidget(row, PRICE)
    assert isinstance(box, QComboBox) and isinstance(edit, QLineEdit)
    box.setCurrentText(store)
    edit.setText(price)


def test_a_saved_price_reprices_both_tabs_and_the_cli_alike(qtbot, make_window, store,  # noqa: F811
                                                            account, moto_url, capsys):
    west, w1 = account["buckets"]["west"], account["ids"]["w1"]
    window = make_window()
    browser = window.ensure_uploads_browser()
    browser.set_location(MOTO_ACCOUNT, west)
    with qtbot.waitSignal(browser.listing_finished, timeout=30_000):
        browser.list_uploads()
    qtbot.waitUntil(lambda: browser.model.totals().pending == 0, timeout=30_000)
    view = window.ensure_account_view()
    view.set_account(MOTO_ACCOUNT)
    with qtbot.waitSignal(view.scan_finished, timeout=120_000):
        view.scan_button.click()

    def tab_costs() -> tuple[float, float, float]:
        row = browser.model.rows()[browser.model.row_of(w1)]
        scanned = next(u for u in view.scan.uploads if u.upload.upload_id == w1)
        return (browser.model.cost_of(row), scanned.monthly_cost,
                view.scan.buckets[west].monthly_cost)

    aws = 3000 / GiB * load_table().price("STANDARD", "eu-west-1")
    assert tab_costs() == (pytest.approx(aws),) * 3

    # Settings > Storage prices: a bad price is refused where it was typed.
    window.prices_action.trigger()
    dialog = next(d for d in window.dialogs.kept if isinstance(d, PricesDialog))
    qtbot.waitExposed(dialog)
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    dialog.add_button.click()
    _set_row(dialog, 0, store_key(moto_url), "a lot")
    save.click()
    assert "Row 1: 'a lot' is not a price" in dialog.error.text() and dialog.isVisible()
    assert not (paths.state_dir() / "prices.json").exists()

    _set_row(dialog, 0, store_key(moto_url), "20")  # this store, every class
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        save.click()
    assert read_prices() == ({}, {store_key(moto_url): {"*": 20.0}})
    mine = 3000 / GiB * 20
    assert tab_costs() == (pytest.approx(mine),) * 3
    assert "your prices for 127.0.0.1" in browser.price_note.text()
    # The All buckets tab's bucket row and its uploads table show the new cost.
    row = next(r for r in range(view.proxy.rowCount())
               if view.proxy.index(r, BUCKET).data() == west)
    assert view.proxy.index(row, BUCKET).data(REPORT_ROLE).monthly_cost == pytest.approx(mine)
    view.table.selectRow(row)
    assert view.uploads_model.index(0, COST).data() == browser.model.index(
        browser.model.row_of(w1), COST).data()

    # The CLI reads the same file.
    capsys.readouterr()
    code = cli.main(["uploads", "list", f"s3://{west}", "--json", "--account", MOTO_ACCOUNT])
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [o["estimated_monthly_cost"] for o in listed] == [pytest.approx(mine, abs=1e-6)]

    # Opened again, the dialog shows what was saved.
    window.prices_action.trigger()
    again = next(d for d in window.dialogs.kept if isinstance(d, PricesDialog))
    assert again.rows() == [(store_key(moto_url), EVERY_CLASS, "", "20")]
    again.close()
