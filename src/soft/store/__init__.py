"""S.O.F.T. store domain."""
