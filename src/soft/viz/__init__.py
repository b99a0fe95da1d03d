"""S.O.F.T. viz domain."""
