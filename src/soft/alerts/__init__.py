"""S.O.F.T. alerts domain."""
