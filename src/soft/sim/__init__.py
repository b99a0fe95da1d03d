"""S.O.F.T. sim domain."""
