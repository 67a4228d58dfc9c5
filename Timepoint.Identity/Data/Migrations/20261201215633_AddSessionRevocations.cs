using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Timepoint.Identity.Data.Migrations
{
    /// <inheritdoc />
    public partial class AddSessionRevocations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "session_revocations",
                columns: table => new
                {
                    SessionId = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    UserId = table.Column<Guid>(type: "uuid", nullable: false),
                    Reason = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    RevokedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ExpiresAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_session_revocations", x => x.SessionId);
                });

            migrationBuilder.CreateIndex(
                name: "IX_session_revocations_ExpiresAt",
                table: "session_revocations",
                column: "ExpiresAt");

            migrationBuilder.CreateIndex(
                name: "IX_session_revocations_RevokedAt",
                table: "session_revocations",
                column: "RevokedAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "session_revocations");
        }
    }
}
