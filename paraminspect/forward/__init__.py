"""The forward-pass observer (check --run, PI1xx) and example inputs."""
