"""Bradley-Terry with home advantage and Davidson ties on five seasons of
the English Premier League (2008-9 to 2012-13, 1,900 games, from
BradleyTerry2's `football`), fitted on the first four seasons and scored
on the fifth against the home/draw/away base rates.

Command:   python launch.py --config=configs/ranking_football.py \\
             --config.data.path=../shared/data/pairwise/football.csv --workdir=runs/ranking_football
Hardware:  2-core CPU (no accelerator).
Wall time: 13.9 s (NUTS compile 5.3 s; idle CPU).
Result:    Manchester United first (P(best) 0.97); home advantage log
           theta 0.690 (se 0.070), tie parameter log nu -0.156 (0.062);
           held-out 2012-13 log-loss 0.963 per game against 1.079 for the
           base rates (306 games; 74 with a promoted team are skipped).
Smoke:     --config=configs/ranking_football.py:smoke (seconds; the test
           suite runs it on a generated file).

Arguments: as configs/ranking_baseball.py.
"""
from configs import common
from ranking import run


def get_config(arg=None):
  c = run.example_config('football')
  c.data.test_season = '2012-13'
  return common.ranking_config(c, arg)
