"""The walk-together WebSocket gateway: any number of instances, coordinated over Redis."""
