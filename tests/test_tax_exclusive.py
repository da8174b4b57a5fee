"""Prices excluding tax (issue #16 item 5, orders/tax.py rule 4): the tax is added to the net.

Outside reference: a Chinese VAT special invoice (增值税专用发票), whose lines carry 金额
(the net), 税率 and 税额 = 金额 x 税率 rounded to the fen (四舍五入) per line, and whose
价税合计 is the nets plus the taxes: worked by hand below from that rule. Per receipt,
the tax is taken once on a rate's net, as an invoice-level total does, and the two
differ on small lines (three 0.35 lines at 13 %: 0.15 one way, 0.14 the other).
"""

from __future__ import annotations

import pytest
from fingerpos.cloud.orders.tax import TaxGroup, summary, tax_on, total_with_tax


def test_the_tax_added_to_a_net_is_as_on_a_fapiao():
    assert tax_on(10000, 1300) == 1300      # 金额 100.00 at 13 %: 税额 13.00, 合计 113.00
    assert tax_on(8850, 1300) == 1151       # 88.50 x 0.13 = 11.505: half up to 11.51
    assert tax_on(8849, 1300) == 1150       # 11.5037 -> 11.50
    assert tax_on(6800, 900) == 612 and tax_on(1000, 0) == 0
    assert tax_on(-8850, 1300) == -1151     # a discount's share: the tax goes down as much


def test_line_and_receipt_rounding_of_an_exclusive_order_as_worked_by_hand():
    lines = [(1, 35, 1300)] * 3 + [(2, 6800, 900)]      # 3 x 0.35 at 13 %, 2 x 68.00 at 9 %
    by_line = summary(lines, rounding="line", mode="exclusive")
    assert by_line == [TaxGroup(1300, 105 + 15, 15, 105), TaxGroup(900, 13600 + 1224, 1224,
                                                                    13600)]
    by_receipt = summary(lines, rounding="receipt", mode="exclusive")
    assert by_receipt[0] == TaxGroup(1300, 105 + 14, 14, 105)   # 1.05 x 0.13 = 0.1365
    assert total_with_tax(lines) == 105 + 15 + 13600 + 1224
    assert total_with_tax(lines, rounding="receipt") == 105 + 14 + 13600 + 1224
    # the same lines in an inclusive shop: what is paid does not move, the tax is in it
    assert sum(g.gross for g in summary(lines)) == 105 + 13600


def test_an_exclusive_discount_lowers_net_and_tax_and_keeps_every_fen():
    lines = [(1, 10000, 1300), (1, 5000, 900)]
    groups = summary(lines, [-1500], "line", "exclusive")   # 15.00 off the nets, 2:1
    assert [(g.rate, g.net, g.tax) for g in groups] == [(1300, 9000, 1300 - 130),
                                                        (900, 4500, 450 - 45)]
    assert sum(g.net for g in groups) == 15000 - 1500
    assert sum(g.gross for g in groups) == sum(g.net + g.tax for g in groups) == 13500 + 1575


@pytest.mark.parametrize("mode", ["", "excl", "EXCLUSIVE", None])
def test_an_unknown_mode_is_refused(mode):
    with pytest.raises(ValueError, match="tax mode"):
        summary([(1, 100, 1300)], mode=mode)
