"""One data-parallel mesh for every family: jit + NamedSharding, no pmap.

Parameters are replicated; the batch axis is sharded over the mesh axis
'data'. On several hosts each process feeds its own slice of the global batch
and `jax.make_array_from_process_local_data` assembles the global array.
"""
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from common.errors import ConfigError

DATA_AXIS = 'data'


def initialize_multihost():
  """Joins a multi-process run (TPU pod, SLURM or MPI GPU cluster).

  With no arguments, jax reads the coordinator address and process ids from
  the cluster environment (TPU metadata, SLURM_*, OMPI_* variables).
  """
  jax.distributed.initialize()


def make_mesh():
  return Mesh(np.array(jax.devices()), (DATA_AXIS,))


def replicated(mesh):
  return NamedSharding(mesh, P())


def batch_sharded(mesh):
  return NamedSharding(mesh, P(DATA_AXIS))


def check_batch_size(batch_size, what='batch_size'):
  n = jax.device_count()
  if batch_size % n:
    raise ConfigError(f'{what}={batch_size} is not divisible by the '
                      f'{n} devices of the data-parallel mesh')


def put_batch(local_batch, mesh):
  """Turns this process's numpy slice of a batch into a global sharded array."""
  sharding = batch_sharded(mesh)
  return jax.tree.map(
      lambda x: jax.make_array_from_process_local_data(sharding, x),
      local_batch)
