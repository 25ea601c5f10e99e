module github.com/wardenhq/warden

go 1.26

require (
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/rs/cors v1.11.1 // indirect
)
