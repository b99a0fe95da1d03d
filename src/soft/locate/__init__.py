"""S.O.F.T. locate domain."""
