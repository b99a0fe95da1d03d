"""S.O.F.T. cameras domain."""
