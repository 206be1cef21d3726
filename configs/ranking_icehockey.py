"""Bradley-Terry with home ice and Davidson ties on NCAA men's ice hockey
2009-10 (58 teams, 1,083 games, from BradleyTerry2's `icehockey`): the MLE
and the posterior of the log-strengths (N(0, 1) prior) with P(best).

Command:   python launch.py --config=configs/ranking_icehockey.py \\
             --config.data.path=../shared/data/pairwise/icehockey.csv --workdir=runs/ranking_icehockey
Hardware:  2-core CPU (no accelerator).
Wall time: 14.9 s (NUTS compile 5.3 s; idle CPU).
Result:    MLE: Denver first; posterior: Miami P(best) 0.31, Denver 0.25;
           home ice log theta 0.470 (se 0.077), ties log nu -1.189 (0.097);
           NUTS min bulk ESS 1869, max R-hat 1.004, no divergences.
Smoke:     --config=configs/ranking_icehockey.py:smoke (seconds; the test
           suite runs it on a generated file).

Arguments: as configs/ranking_baseball.py.
"""
from configs import common
from ranking import run


def get_config(arg=None):
  return common.ranking_config(run.example_config('icehockey'), arg)
