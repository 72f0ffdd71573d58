"""Board builds."""
