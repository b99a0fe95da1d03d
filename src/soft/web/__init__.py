"""S.O.F.T. web domain."""
