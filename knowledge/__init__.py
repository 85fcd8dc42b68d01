"""What Lookout remembers and retrieves about past incidents."""
