"""Bradley-Terry ranking of the 1987 American League East (7 teams, 273
games, home advantage; Agresti 2002, p. 438, from BradleyTerry2's
`baseball`), the embedded default: MLE by Newman's fixed point (checked
against Hunter's MM and a logistic regression), and the posterior of the
log-strengths by the project's NUTS with P(best) and P(top 3).

Command:   python launch.py --config=configs/ranking_baseball.py --workdir=runs/ranking_baseball
Hardware:  2-core CPU (no accelerator).
Wall time: 9.4 s (NUTS compile 4.9 s; idle CPU).
Result:    Milwaukee first: P(best) 0.57, P(top 3) 0.93; home advantage
           log theta 0.3023 (se 0.1309), BradleyTerry2's published fit;
           log-likelihood -169.5429; NUTS min bulk ESS 1096, max R-hat
           1.004, no divergences.
Smoke:     --config=configs/ranking_baseball.py:smoke (seconds).

Arguments (every ranking config): prior=none|gamma|normal (the point
estimate: MLE or MAP), draws (posterior draws per chain; 0 = none).
"""
from configs import common
from ranking import run


def get_config(arg=None):
  return common.ranking_config(run.example_config('baseball'), arg)
