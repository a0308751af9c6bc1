"""Alert push channels: terminals over WebSocket, MQTT, signed webhooks."""
