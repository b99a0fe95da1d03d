"""S.O.F.T. classify domain."""
