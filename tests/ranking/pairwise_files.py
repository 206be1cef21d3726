"""Generated pairwise-comparison files in the columns of BradleyTerry2's
data sets (tests never read ../shared)."""
import numpy as np


def write_csv(name, path):
  """Games among 6 teams with home wins, draws and away wins, every team
  winning and losing, in the columns of BradleyTerry2's data sets."""
  rng = np.random.default_rng(0)
  teams = [f'team{i}' for i in range(6)]
  lines = (['season,home,away,result'] if name == 'football' else
           ['date,visitor,v_goals,opponent,o_goals,conference,result,home.ice'])
  for g in range(120):
    i, j = rng.choice(6, 2, replace=False)
    outcome = (-1, 0, 1)[g % 3]
    if name == 'football':
      season = ('2011-12', '2012-13')[g % 2]
      lines.append(f'{season},{teams[i]},{teams[j]},{outcome}.0')
    else:
      result = (outcome + 1) / 2  # The visitor's: 0, 0.5 or 1.
      lines.append(f'2009{g:04d},{teams[i]},1,{teams[j]},1,NC,{result},'
                   f'{bool(g % 2)}')
  with open(path, 'w') as f:
    f.write('\n'.join(lines) + '\n')
  return path
