"""S.O.F.T. site domain."""
