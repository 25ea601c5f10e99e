// Command gin is the peer that bench/compare measures Warden against: a
// typical Gin stack for a JSON API, as a team would assemble it from the
// usual packages, serving one authenticated route.
//
// The route GET /api/demo/jwt runs, in order: Gin's logger (one text line
// per request to -log), recovery, gin-contrib/cors (the -origin allowed),
// the security headers Warden sends (set by a small middleware, as such
// stacks do), a per-IP token bucket from golang.org/x/time/rate (high
// enough never to refuse, like Warden's throttle in the comparison), then
// a bearer JWT checked with golang-jwt (HS256 only, issuer, audience and
// expiry required), and answers the same JSON document as Warden's
// /api/demo/jwt. There is no revocation check: a typical stack has none.
//
// It lives in a module of its own so that Warden's module never depends
// on Gin. It listens on a free 127.0.0.1 port and prints the address on
// its first line of standard output; the HMAC key is read from the
// environment variable GIN_PEER_SECRET (hex).
package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gin-contrib/cors"
	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

func main() {
	logPath := flag.String("log", os.DevNull, "access log `file`")
	origin := flag.String("origin", "http://localhost:3000", "the allowed CORS origin")
	issuer := flag.String("issuer", "warden", "the required iss and aud")
	flag.Parse()
	key, err := hex.DecodeString(os.Getenv("GIN_PEER_SECRET"))
	if err != nil || len(key) < 32 {
		fmt.Fprintln(os.Stderr, "gin peer: GIN_PEER_SECRET must be at least 32 bytes in hex")
		os.Exit(2)
	}
	logFile, err := os.OpenFile(*logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gin peer:", err)
		os.Exit(1)
	}
	defer logFile.Close()

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.LoggerWithWriter(logFile), gin.Recovery())
	r.Use(cors.New(cors.Config{
		AllowOrigins:     []string{*origin},
		AllowMethods:     []string{"GET", "POST", "PUT", "PATCH", "DELETE"},
		AllowHeaders:     []string{"Authorization", "Content-Type"},
		AllowCredentials: false,
		MaxAge:           10 * time.Minute,
	}))
	r.Use(securityHeaders)
	r.Use(perIPLimit(rate.Limit(1_000_000.0/60), 1_000_000))

	api := r.Group("/api/demo", bearerJWT(key, *issuer))
	api.GET("/jwt", func(c *gin.Context) {
		claims := c.MustGet("claims").(*claims)
		perms := claims.Permissions
		if perms == nil {
			perms = []string{}
		}
		c.Header("Cache-Control", "no-store")
		c.Header("Pragma", "no-cache")
		c.JSON(http.StatusOK, whoami{
			UserID: claims.Subject, AuthBackend: "jwt", IsStaff: claims.IsStaff, IsAdmin: claims.IsAdmin, Permissions: perms,
		})
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gin peer:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "gin peer:", err)
		os.Exit(1)
	}
}

// whoami is Warden's /api/demo/jwt answer.
type whoami struct {
	UserID      string   `json:"user_id"`
	AuthBackend string   `json:"auth_backend"`
	IsStaff     bool     `json:"is_staff"`
	IsAdmin     bool     `json:"is_admin"`
	Permissions []string `json:"permissions"`
}

// securityHeaders sets the headers Warden sends on every response.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	c.Next()
}

// perIPLimit keeps a token bucket per client IP, the usual x/time/rate
// recipe (a map under a mutex).
func perIPLimit(r rate.Limit, burst int) gin.HandlerFunc {
	var mu sync.Mutex
	buckets := map[string]*rate.Limiter{}
	return func(c *gin.Context) {
		ip := c.ClientIP()
		mu.Lock()
		l, ok := buckets[ip]
		if !ok {
			l = rate.NewLimiter(r, burst)
			buckets[ip] = l
		}
		mu.Unlock()
		if !l.Allow() {
			c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{"detail": "Too many requests."})
			return
		}
		c.Next()
	}
}

// claims are the access token's claims that the route reads.
type claims struct {
	jwt.RegisteredClaims
	IsStaff     bool     `json:"is_staff"`
	IsAdmin     bool     `json:"is_admin"`
	Permissions []string `json:"permissions"`
}

// bearerJWT verifies the bearer token: HS256 only, signature, expiry,
// issuer and audience.
func bearerJWT(key []byte, issuer string) gin.HandlerFunc {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(issuer),
		jwt.WithAudience(issuer), jwt.WithExpirationRequired())
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	return func(c *gin.Context) {
		raw, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"detail": "Authentication credentials were not provided."})
			return
		}
		var cl claims
		if _, err := parser.ParseWithClaims(raw, &cl, keyFunc); err != nil {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"detail": "Given token not valid for any token type"})
			return
		}
		c.Set("claims", &cl)
		c.Next()
	}
}
