"""Hamiltonian Monte Carlo: leapfrog, HMC / NUTS / random-walk kernels,
Stan's window adaptation, diagnostics, targets and the config entry."""
