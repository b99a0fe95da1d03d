"""S.O.F.T. audio domain."""
