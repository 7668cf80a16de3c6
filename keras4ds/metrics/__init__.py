"""4D metrics, exact to their reference implementations."""
