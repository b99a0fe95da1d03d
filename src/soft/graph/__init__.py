"""S.O.F.T. graph domain."""
