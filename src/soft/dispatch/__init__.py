"""S.O.F.T. dispatch domain."""
