"""The papers' claims (studylib.papers): the claims table holds ACNN's Table 1 effects, one
primary comparison or rule per claim, and the ADM setting the face claims read."""

import pytest

from studylib import papers
from studylib.experiments import freezing


def test_the_claims_table_knows_the_papers():
    assert papers.CLAIMS[1].primary.effect == pytest.approx(1.1)
    assert papers.CLAIMS[1].exploratory[0].effect == pytest.approx(2.3)
    reported = freezing.paper_table1().iloc[-1]
    assert reported["Total"] == papers.acnn_effect("Total")
    assert reported["Ank."] == papers.acnn_effect("Ank.")
    assert sorted(papers.CLAIMS) == list(range(1, 11))
    for claim in papers.CLAIMS.values():
        assert (claim.primary is None) == bool(claim.rule)
    assert papers.ADM_SETTING == "adm-r8"
